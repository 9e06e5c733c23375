"""Schema migrations of the store of record, numbered and applied in order, once.

Each migration is plain SQL that both SQLite and PostgreSQL accept, unless a
backend gives its own variant. A store applies every migration newer than the
highest version recorded in `schema_migrations`, each in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sqlite: str
    postgres: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="room update log and snapshots",
        sqlite="""
            CREATE TABLE room_updates (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                room TEXT NOT NULL,
                data BLOB NOT NULL
            );
            CREATE INDEX room_updates_room_id ON room_updates (room, id);
            CREATE TABLE room_snapshots (
                room TEXT PRIMARY KEY,
                data BLOB NOT NULL,
                upto_id INTEGER NOT NULL,
                updated_at REAL NOT NULL
            );
        """,
        postgres="""
            CREATE TABLE room_updates (
                id BIGSERIAL PRIMARY KEY,
                room TEXT NOT NULL,
                data BYTEA NOT NULL
            );
            CREATE INDEX room_updates_room_id ON room_updates (room, id);
            CREATE TABLE room_snapshots (
                room TEXT PRIMARY KEY,
                data BYTEA NOT NULL,
                upto_id BIGINT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            );
        """,
    ),
    Migration(
        version=2,
        description="studies, groups, people, invites, sessions and progress",
        sqlite="""
            CREATE TABLE facilitators (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                created_at REAL NOT NULL
            );
            CREATE TABLE studies (
                id TEXT PRIMARY KEY,
                owner_id TEXT NOT NULL REFERENCES facilitators (id),
                name TEXT NOT NULL,
                context_name TEXT NOT NULL,
                context_description TEXT NOT NULL,
                system_prompt TEXT NOT NULL,
                models TEXT NOT NULL,
                orientation TEXT NOT NULL,
                training_name TEXT NOT NULL,
                training_system_prompt TEXT NOT NULL,
                training_examples TEXT NOT NULL,
                stage_order TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            );
            CREATE INDEX studies_owner ON studies (owner_id, created_at);
            CREATE TABLE baseline_interactions (
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                id TEXT NOT NULL,
                position INTEGER NOT NULL,
                prompt TEXT NOT NULL,
                response TEXT NOT NULL,
                prompt_reconstructed INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (study_id, id)
            );
            CREATE TABLE study_groups (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                created_at REAL NOT NULL,
                UNIQUE (study_id, name),
                UNIQUE (study_id, id)
            );
            CREATE TABLE invites (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                group_id TEXT,
                role TEXT NOT NULL CHECK (role IN ('participant', 'observer', 'facilitator')),
                participant_id TEXT REFERENCES participants (id) ON DELETE CASCADE,
                expires_at REAL NOT NULL,
                revoked_at REAL,
                created_by TEXT REFERENCES facilitators (id),
                created_at REAL NOT NULL,
                FOREIGN KEY (study_id, group_id) REFERENCES study_groups (study_id, id)
            );
            CREATE INDEX invites_study ON invites (study_id, created_at);
            CREATE TABLE participants (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL,
                group_id TEXT NOT NULL,
                display_name TEXT NOT NULL,
                invite_id TEXT REFERENCES invites (id) ON DELETE SET NULL,
                created_at REAL NOT NULL,
                FOREIGN KEY (study_id, group_id) REFERENCES study_groups (study_id, id) ON DELETE CASCADE
            );
            CREATE INDEX participants_group ON participants (study_id, group_id, created_at);
            CREATE TABLE participant_progress (
                participant_id TEXT PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
                stage TEXT NOT NULL CHECK (stage IN ('familiarize', 'interact', 'reflect', 'discuss')),
                updated_at REAL NOT NULL
            );
            CREATE TABLE sessions (
                token_hash TEXT PRIMARY KEY,
                role TEXT NOT NULL CHECK (role IN ('participant', 'observer', 'facilitator')),
                facilitator_id TEXT REFERENCES facilitators (id) ON DELETE CASCADE,
                participant_id TEXT REFERENCES participants (id) ON DELETE CASCADE,
                study_id TEXT REFERENCES studies (id) ON DELETE CASCADE,
                group_id TEXT,
                display_name TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL
            );
            CREATE INDEX sessions_expiry ON sessions (expires_at);
        """,
        postgres="""
            CREATE TABLE facilitators (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            );
            CREATE TABLE studies (
                id TEXT PRIMARY KEY,
                owner_id TEXT NOT NULL REFERENCES facilitators (id),
                name TEXT NOT NULL,
                context_name TEXT NOT NULL,
                context_description TEXT NOT NULL,
                system_prompt TEXT NOT NULL,
                models JSONB NOT NULL,
                orientation TEXT NOT NULL,
                training_name TEXT NOT NULL,
                training_system_prompt TEXT NOT NULL,
                training_examples JSONB NOT NULL,
                stage_order JSONB NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX studies_owner ON studies (owner_id, created_at);
            CREATE TABLE baseline_interactions (
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                id TEXT NOT NULL,
                position INTEGER NOT NULL,
                prompt TEXT NOT NULL,
                response TEXT NOT NULL,
                prompt_reconstructed BOOLEAN NOT NULL DEFAULT FALSE,
                PRIMARY KEY (study_id, id)
            );
            CREATE TABLE study_groups (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                UNIQUE (study_id, name),
                UNIQUE (study_id, id)
            );
            CREATE TABLE invites (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                group_id TEXT,
                role TEXT NOT NULL CHECK (role IN ('participant', 'observer', 'facilitator')),
                participant_id TEXT,
                expires_at DOUBLE PRECISION NOT NULL,
                revoked_at DOUBLE PRECISION,
                created_by TEXT REFERENCES facilitators (id),
                created_at DOUBLE PRECISION NOT NULL,
                FOREIGN KEY (study_id, group_id) REFERENCES study_groups (study_id, id)
            );
            CREATE INDEX invites_study ON invites (study_id, created_at);
            CREATE TABLE participants (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL,
                group_id TEXT NOT NULL,
                display_name TEXT NOT NULL,
                invite_id TEXT REFERENCES invites (id) ON DELETE SET NULL,
                created_at DOUBLE PRECISION NOT NULL,
                FOREIGN KEY (study_id, group_id) REFERENCES study_groups (study_id, id) ON DELETE CASCADE
            );
            CREATE INDEX participants_group ON participants (study_id, group_id, created_at);
            ALTER TABLE invites ADD CONSTRAINT invites_participant_id_fkey
                FOREIGN KEY (participant_id) REFERENCES participants (id) ON DELETE CASCADE;
            CREATE TABLE participant_progress (
                participant_id TEXT PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
                stage TEXT NOT NULL CHECK (stage IN ('familiarize', 'interact', 'reflect', 'discuss')),
                updated_at DOUBLE PRECISION NOT NULL
            );
            CREATE TABLE sessions (
                token_hash TEXT PRIMARY KEY,
                role TEXT NOT NULL CHECK (role IN ('participant', 'observer', 'facilitator')),
                facilitator_id TEXT REFERENCES facilitators (id) ON DELETE CASCADE,
                participant_id TEXT REFERENCES participants (id) ON DELETE CASCADE,
                study_id TEXT REFERENCES studies (id) ON DELETE CASCADE,
                group_id TEXT,
                display_name TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX sessions_expiry ON sessions (expires_at);
        """,
    ),
    Migration(
        version=3,
        description="Interact: the study's interact settings, conversations and their messages",
        sqlite="""
            ALTER TABLE studies ADD COLUMN interact TEXT NOT NULL DEFAULT '{}';
            CREATE TABLE conversations (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL REFERENCES studies (id),
                group_id TEXT NOT NULL,
                participant_id TEXT NOT NULL REFERENCES participants (id),
                model TEXT NOT NULL,
                title TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            );
            CREATE INDEX conversations_participant ON conversations (participant_id, created_at);
            CREATE INDEX conversations_study ON conversations (study_id, created_at);
            CREATE TABLE messages (
                id TEXT PRIMARY KEY,
                conversation_id TEXT NOT NULL REFERENCES conversations (id),
                seq INTEGER NOT NULL,
                role TEXT NOT NULL,
                content TEXT NOT NULL,
                status TEXT NOT NULL,
                replaces TEXT,
                model TEXT,
                endpoint TEXT,
                system_prompt TEXT,
                sampling TEXT,
                error TEXT,
                completion_tokens INTEGER,
                created_at REAL NOT NULL,
                started_at REAL,
                first_token_at REAL,
                finished_at REAL,
                UNIQUE (conversation_id, seq)
            );
        """,
        postgres="""
            ALTER TABLE studies ADD COLUMN interact JSONB NOT NULL DEFAULT '{}';
            CREATE TABLE conversations (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL REFERENCES studies (id),
                group_id TEXT NOT NULL,
                participant_id TEXT NOT NULL REFERENCES participants (id),
                model TEXT NOT NULL,
                title TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX conversations_participant ON conversations (participant_id, created_at);
            CREATE INDEX conversations_study ON conversations (study_id, created_at);
            CREATE TABLE messages (
                id TEXT PRIMARY KEY,
                conversation_id TEXT NOT NULL REFERENCES conversations (id),
                seq INTEGER NOT NULL,
                role TEXT NOT NULL,
                content TEXT NOT NULL,
                status TEXT NOT NULL,
                replaces TEXT,
                model TEXT,
                endpoint TEXT,
                system_prompt TEXT,
                sampling JSONB,
                error TEXT,
                completion_tokens INTEGER,
                created_at DOUBLE PRECISION NOT NULL,
                started_at DOUBLE PRECISION,
                first_token_at DOUBLE PRECISION,
                finished_at DOUBLE PRECISION,
                UNIQUE (conversation_id, seq)
            );
        """,
    ),
    Migration(
        version=4,
        description="Familiarize: lesson, practice and check content; participants' progress, check attempts; stage gating",
        sqlite="""
            ALTER TABLE studies ADD COLUMN familiarize TEXT NOT NULL DEFAULT '{}';
            CREATE TABLE familiarize_progress (
                participant_id TEXT PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
                study_id TEXT NOT NULL,
                orientation_pages_seen INTEGER NOT NULL DEFAULT 0,
                orientation_done_at REAL,
                lesson_done_at REAL,
                practice TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                best_score REAL,
                check_passed_at REAL,
                updated_at REAL NOT NULL
            );
            CREATE INDEX familiarize_progress_study ON familiarize_progress (study_id);
            CREATE TABLE check_attempts (
                id TEXT PRIMARY KEY,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                study_id TEXT NOT NULL,
                answers TEXT NOT NULL,
                score REAL NOT NULL,
                passed INTEGER NOT NULL,
                created_at REAL NOT NULL
            );
            CREATE INDEX check_attempts_participant ON check_attempts (participant_id, created_at);
            CREATE TABLE stage_completions (
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                stage TEXT NOT NULL CHECK (stage IN ('familiarize', 'interact', 'reflect', 'discuss')),
                completed_at REAL NOT NULL,
                PRIMARY KEY (participant_id, stage)
            );
            CREATE TABLE stage_overrides (
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                scope TEXT NOT NULL CHECK (scope IN ('group', 'participant')),
                target_id TEXT NOT NULL,
                stage TEXT NOT NULL CHECK (stage IN ('familiarize', 'interact', 'reflect', 'discuss')),
                state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
                updated_at REAL NOT NULL,
                PRIMARY KEY (study_id, scope, target_id, stage)
            );
        """,
        postgres="""
            ALTER TABLE studies ADD COLUMN familiarize JSONB NOT NULL DEFAULT '{}';
            CREATE TABLE familiarize_progress (
                participant_id TEXT PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
                study_id TEXT NOT NULL,
                orientation_pages_seen INTEGER NOT NULL DEFAULT 0,
                orientation_done_at DOUBLE PRECISION,
                lesson_done_at DOUBLE PRECISION,
                practice JSONB NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                best_score DOUBLE PRECISION,
                check_passed_at DOUBLE PRECISION,
                updated_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX familiarize_progress_study ON familiarize_progress (study_id);
            CREATE TABLE check_attempts (
                id TEXT PRIMARY KEY,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                study_id TEXT NOT NULL,
                answers JSONB NOT NULL,
                score DOUBLE PRECISION NOT NULL,
                passed BOOLEAN NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX check_attempts_participant ON check_attempts (participant_id, created_at);
            CREATE TABLE stage_completions (
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                stage TEXT NOT NULL CHECK (stage IN ('familiarize', 'interact', 'reflect', 'discuss')),
                completed_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (participant_id, stage)
            );
            CREATE TABLE stage_overrides (
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                scope TEXT NOT NULL CHECK (scope IN ('group', 'participant')),
                target_id TEXT NOT NULL,
                stage TEXT NOT NULL CHECK (stage IN ('familiarize', 'interact', 'reflect', 'discuss')),
                state TEXT NOT NULL CHECK (state IN ('open', 'closed')),
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (study_id, scope, target_id, stage)
            );
        """,
    ),
    Migration(
        version=5,
        description="Reflect: codes, annotations, clusters, their operation history; code release and sharing",
        sqlite="""
            CREATE TABLE reflect_heads (
                participant_id TEXT PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
                study_id TEXT NOT NULL,
                version INTEGER NOT NULL
            );
            CREATE TABLE reflect_codes (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                label TEXT NOT NULL,
                merged_into TEXT,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                deleted_at REAL
            );
            CREATE INDEX reflect_codes_participant ON reflect_codes (participant_id);
            CREATE INDEX reflect_codes_study ON reflect_codes (study_id);
            CREATE TABLE reflect_annotations (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                target_kind TEXT NOT NULL CHECK (target_kind IN ('message', 'baseline')),
                target_id TEXT NOT NULL,
                span_start INTEGER NOT NULL,
                span_end INTEGER NOT NULL,
                quote TEXT NOT NULL,
                memo TEXT NOT NULL,
                code_ids TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                deleted_at REAL
            );
            CREATE INDEX reflect_annotations_participant ON reflect_annotations (participant_id);
            CREATE TABLE reflect_clusters (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                definition TEXT NOT NULL,
                code_ids TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                deleted_at REAL
            );
            CREATE INDEX reflect_clusters_participant ON reflect_clusters (participant_id);
            CREATE TABLE reflect_ops (
                op_id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                kind TEXT NOT NULL,
                payload TEXT NOT NULL,
                result TEXT NOT NULL,
                created_at REAL NOT NULL,
                UNIQUE (participant_id, seq)
            );
            CREATE TABLE reflect_settings (
                study_id TEXT PRIMARY KEY REFERENCES studies (id) ON DELETE CASCADE,
                codes_released_at REAL,
                share_sample INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE conversation_sharing (
                participant_id TEXT PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
                agreed_at REAL NOT NULL
            );
        """,
        postgres="""
            CREATE TABLE reflect_heads (
                participant_id TEXT PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
                study_id TEXT NOT NULL,
                version INTEGER NOT NULL
            );
            CREATE TABLE reflect_codes (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                label TEXT NOT NULL,
                merged_into TEXT,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                deleted_at DOUBLE PRECISION
            );
            CREATE INDEX reflect_codes_participant ON reflect_codes (participant_id);
            CREATE INDEX reflect_codes_study ON reflect_codes (study_id);
            CREATE TABLE reflect_annotations (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                target_kind TEXT NOT NULL CHECK (target_kind IN ('message', 'baseline')),
                target_id TEXT NOT NULL,
                span_start INTEGER NOT NULL,
                span_end INTEGER NOT NULL,
                quote TEXT NOT NULL,
                memo TEXT NOT NULL,
                code_ids JSONB NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                deleted_at DOUBLE PRECISION
            );
            CREATE INDEX reflect_annotations_participant ON reflect_annotations (participant_id);
            CREATE TABLE reflect_clusters (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                name TEXT NOT NULL,
                definition TEXT NOT NULL,
                code_ids JSONB NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                deleted_at DOUBLE PRECISION
            );
            CREATE INDEX reflect_clusters_participant ON reflect_clusters (participant_id);
            CREATE TABLE reflect_ops (
                op_id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                seq INTEGER NOT NULL,
                kind TEXT NOT NULL,
                payload JSONB NOT NULL,
                result JSONB NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                UNIQUE (participant_id, seq)
            );
            CREATE TABLE reflect_settings (
                study_id TEXT PRIMARY KEY REFERENCES studies (id) ON DELETE CASCADE,
                codes_released_at DOUBLE PRECISION,
                share_sample INTEGER NOT NULL DEFAULT 0
            );
            CREATE TABLE conversation_sharing (
                participant_id TEXT PRIMARY KEY REFERENCES participants (id) ON DELETE CASCADE,
                agreed_at DOUBLE PRECISION NOT NULL
            );
        """,
    ),
    Migration(
        version=6,
        description="embedding cache: a vector per model and text, so the same text is never embedded twice",
        sqlite="""
            CREATE TABLE embeddings (
                model TEXT NOT NULL,
                text_sha256 TEXT NOT NULL,
                dimensions INTEGER NOT NULL,
                vector BLOB NOT NULL,
                PRIMARY KEY (model, text_sha256)
            );
        """,
        postgres="""
            CREATE TABLE embeddings (
                model TEXT NOT NULL,
                text_sha256 TEXT NOT NULL,
                dimensions INTEGER NOT NULL,
                vector BYTEA NOT NULL,
                PRIMARY KEY (model, text_sha256)
            );
        """,
    ),
    Migration(
        version=7,
        description="Discuss: the study's discuss settings (the semantic canvas's anonymity)",
        sqlite="ALTER TABLE studies ADD COLUMN discuss TEXT NOT NULL DEFAULT '{}';",
        postgres="ALTER TABLE studies ADD COLUMN discuss JSONB NOT NULL DEFAULT '{}';",
    ),
    Migration(
        version=8,
        description="Discuss: private segment entries (top three, rankings, ratings), group attributes and their versions",
        sqlite="""
            CREATE TABLE discuss_entries (
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                kind TEXT NOT NULL CHECK (kind IN ('top3', 'ranking', 'ratings')),
                study_id TEXT NOT NULL,
                group_id TEXT NOT NULL,
                payload TEXT NOT NULL,
                updated_at REAL NOT NULL,
                PRIMARY KEY (participant_id, kind)
            );
            CREATE INDEX discuss_entries_group ON discuss_entries (group_id, kind);
            CREATE TABLE discuss_attributes (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                group_id TEXT NOT NULL,
                name TEXT NOT NULL,
                definition TEXT NOT NULL,
                examples TEXT NOT NULL,
                provenance TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('active', 'merged', 'split', 'removed')),
                merged_into TEXT,
                split_from TEXT,
                version INTEGER NOT NULL,
                created_by TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            );
            CREATE INDEX discuss_attributes_group ON discuss_attributes (group_id);
            CREATE TABLE discuss_attribute_versions (
                attribute_id TEXT NOT NULL REFERENCES discuss_attributes (id) ON DELETE CASCADE,
                version INTEGER NOT NULL,
                op TEXT NOT NULL,
                snapshot TEXT NOT NULL,
                by_name TEXT NOT NULL,
                at REAL NOT NULL,
                PRIMARY KEY (attribute_id, version)
            );
        """,
        postgres="""
            CREATE TABLE discuss_entries (
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                kind TEXT NOT NULL CHECK (kind IN ('top3', 'ranking', 'ratings')),
                study_id TEXT NOT NULL,
                group_id TEXT NOT NULL,
                payload JSONB NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (participant_id, kind)
            );
            CREATE INDEX discuss_entries_group ON discuss_entries (group_id, kind);
            CREATE TABLE discuss_attributes (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                group_id TEXT NOT NULL,
                name TEXT NOT NULL,
                definition TEXT NOT NULL,
                examples JSONB NOT NULL,
                provenance JSONB NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('active', 'merged', 'split', 'removed')),
                merged_into TEXT,
                split_from TEXT,
                version INTEGER NOT NULL,
                created_by TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX discuss_attributes_group ON discuss_attributes (group_id);
            CREATE TABLE discuss_attribute_versions (
                attribute_id TEXT NOT NULL REFERENCES discuss_attributes (id) ON DELETE CASCADE,
                version INTEGER NOT NULL,
                op TEXT NOT NULL,
                snapshot JSONB NOT NULL,
                by_name TEXT NOT NULL,
                at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (attribute_id, version)
            );
        """,
    ),
    Migration(
        version=9,
        description="Outputs: the facilitator's corrections of the cross-group pairing of axes",
        sqlite="""
            CREATE TABLE outputs_pairings (
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                group_a TEXT NOT NULL,
                group_b TEXT NOT NULL,
                pairs TEXT NOT NULL,
                by_name TEXT NOT NULL,
                updated_at REAL NOT NULL,
                PRIMARY KEY (study_id, group_a, group_b)
            );
        """,
        postgres="""
            CREATE TABLE outputs_pairings (
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                group_a TEXT NOT NULL,
                group_b TEXT NOT NULL,
                pairs JSONB NOT NULL,
                by_name TEXT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (study_id, group_a, group_b)
            );
        """,
    ),
    Migration(
        version=10,
        description="Outputs: A/B tests among participants (two arms, blind trials, choices per axis)",
        sqlite="""
            CREATE TABLE ab_tests (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                group_id TEXT NOT NULL,
                name TEXT NOT NULL,
                arms TEXT NOT NULL,
                axes TEXT NOT NULL,
                open INTEGER NOT NULL,
                created_at REAL NOT NULL
            );
            CREATE INDEX ab_tests_group ON ab_tests (group_id);
            CREATE TABLE ab_trials (
                id TEXT PRIMARY KEY,
                test_id TEXT NOT NULL REFERENCES ab_tests (id) ON DELETE CASCADE,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                prompt TEXT NOT NULL,
                reply_a TEXT NOT NULL,
                reply_b TEXT NOT NULL,
                a_side TEXT NOT NULL CHECK (a_side IN ('left', 'right')),
                choices TEXT,
                created_at REAL NOT NULL,
                chosen_at REAL
            );
            CREATE INDEX ab_trials_test ON ab_trials (test_id);
        """,
        postgres="""
            CREATE TABLE ab_tests (
                id TEXT PRIMARY KEY,
                study_id TEXT NOT NULL REFERENCES studies (id) ON DELETE CASCADE,
                group_id TEXT NOT NULL,
                name TEXT NOT NULL,
                arms JSONB NOT NULL,
                axes JSONB NOT NULL,
                open INTEGER NOT NULL,
                created_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX ab_tests_group ON ab_tests (group_id);
            CREATE TABLE ab_trials (
                id TEXT PRIMARY KEY,
                test_id TEXT NOT NULL REFERENCES ab_tests (id) ON DELETE CASCADE,
                participant_id TEXT NOT NULL REFERENCES participants (id) ON DELETE CASCADE,
                prompt TEXT NOT NULL,
                reply_a TEXT NOT NULL,
                reply_b TEXT NOT NULL,
                a_side TEXT NOT NULL CHECK (a_side IN ('left', 'right')),
                choices JSONB,
                created_at DOUBLE PRECISION NOT NULL,
                chosen_at DOUBLE PRECISION
            );
            CREATE INDEX ab_trials_test ON ab_trials (test_id);
        """,
    ),
    Migration(
        version=11,
        description="sign-in failure counters per account and per client address (calma.access.throttle)",
        sqlite="""
            CREATE TABLE sign_in_failures (
                counter_key TEXT PRIMARY KEY,
                failures INTEGER NOT NULL,
                last_at REAL NOT NULL
            );
            CREATE INDEX sign_in_failures_last_at ON sign_in_failures (last_at);
        """,
        postgres="""
            CREATE TABLE sign_in_failures (
                counter_key TEXT PRIMARY KEY,
                failures INTEGER NOT NULL,
                last_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX sign_in_failures_last_at ON sign_in_failures (last_at);
        """,
    ),
    Migration(
        version=12,
        description="invites: personal (one person, resumed on every open) or group (at most max_uses people)",
        sqlite="""
            ALTER TABLE invites ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal'
                CHECK (kind IN ('personal', 'group'));
            ALTER TABLE invites ADD COLUMN max_uses INTEGER CHECK (max_uses IS NULL OR max_uses >= 1);
            ALTER TABLE invites ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE invites ADD COLUMN label TEXT NOT NULL DEFAULT '';
            UPDATE invites SET kind = 'group' WHERE participant_id IS NULL AND role IN ('participant', 'observer');
            UPDATE invites SET uses = (SELECT COUNT(*) FROM participants p WHERE p.invite_id = invites.id)
                WHERE kind = 'group';
        """,
        postgres="""
            ALTER TABLE invites ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal'
                CHECK (kind IN ('personal', 'group'));
            ALTER TABLE invites ADD COLUMN max_uses INTEGER CHECK (max_uses IS NULL OR max_uses >= 1);
            ALTER TABLE invites ADD COLUMN uses INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE invites ADD COLUMN label TEXT NOT NULL DEFAULT '';
            UPDATE invites SET kind = 'group' WHERE participant_id IS NULL AND role IN ('participant', 'observer');
            UPDATE invites SET uses = (SELECT COUNT(*) FROM participants p WHERE p.invite_id = invites.id)
                WHERE kind = 'group';
        """,
    ),
    Migration(
        version=13,
        description="sandbox rooms (rooms outside any study): when each was last written (calma.access.sandbox)",
        sqlite="""
            CREATE TABLE sandbox_rooms (
                room TEXT PRIMARY KEY,
                created_at REAL NOT NULL,
                last_write_at REAL NOT NULL
            );
            CREATE INDEX sandbox_rooms_last_write ON sandbox_rooms (last_write_at);
            INSERT INTO sandbox_rooms (room, created_at, last_write_at)
                SELECT room, CAST(strftime('%s', 'now') AS REAL), CAST(strftime('%s', 'now') AS REAL)
                FROM (SELECT room FROM room_updates UNION SELECT room FROM room_snapshots)
                WHERE substr(room, 1, 6) <> 'study-';
        """,
        postgres="""
            CREATE TABLE sandbox_rooms (
                room TEXT PRIMARY KEY,
                created_at DOUBLE PRECISION NOT NULL,
                last_write_at DOUBLE PRECISION NOT NULL
            );
            CREATE INDEX sandbox_rooms_last_write ON sandbox_rooms (last_write_at);
            INSERT INTO sandbox_rooms (room, created_at, last_write_at)
                SELECT room, extract(epoch FROM now()), extract(epoch FROM now())
                FROM (SELECT room FROM room_updates UNION SELECT room FROM room_snapshots) AS rooms
                WHERE substr(room, 1, 6) <> 'study-';
        """,
    ),
)


def latest_version() -> int:
    return MIGRATIONS[-1].version
