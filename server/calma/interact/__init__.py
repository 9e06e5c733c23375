"""Interact (CALMA stage 2): participants chat with the study's model(s), every turn stored.

`backend` defines one interface for text generation and its three kinds
(`embedded` llama.cpp, `openai_compat` for vLLM and any OpenAI-compatible
server); `pool` dispatches generations fairly over endpoints with caps;
`conversations` is the record of chats; `service` ties them to the control
channel. Nothing here touches rooms or the board.
"""
