-- Listing (schema version 3): the API pages through an app's calls and a user's tokens newest
-- first with keyset cursors, (created_at, call_id) < cursor and (registered_at, token) < cursor,
-- so each page is one index range however deep it is. The calls index has no state: a state
-- filter reads this range and skips rows, which keeps the hot path (every state change updates
-- the calls row) free of a second index to maintain. The tokens index holds invalidated tokens
-- too (tokens_active does not): the listing shows them with when and why.
CREATE INDEX calls_app_created ON calls (app, created_at, call_id);
CREATE INDEX tokens_user ON tokens (app, user_id, registered_at, token);
