/**
 * The orewatch SQL schema, as numbered migrations applied in order inside a transaction.
 * Runs unchanged on PGlite and PostgreSQL 15+. No PostGIS: geometries are GeoJSON (jsonb) with
 * bbox columns for index look-ups; exact predicates run in TypeScript.
 */
import { ifNotExistsRacing, type Database } from './database.js';

export const MIGRATIONS: { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE layers (
  layer_id     bigserial PRIMARY KEY,
  kind         text NOT NULL CHECK (kind IN ('permits','closed_sites','protected_areas','jurisdictions')),
  name         text NOT NULL,
  version      integer NOT NULL,
  sha256       text NOT NULL,
  source_file  text NOT NULL,
  format       text NOT NULL,
  feature_count integer NOT NULL,
  imported_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, name, version)
);
CREATE TABLE layer_features (
  layer_id   bigint NOT NULL REFERENCES layers(layer_id) ON DELETE CASCADE,
  feature_id text NOT NULL,
  properties jsonb NOT NULL,
  geometry   jsonb NOT NULL,
  min_lon double precision NOT NULL, min_lat double precision NOT NULL,
  max_lon double precision NOT NULL, max_lat double precision NOT NULL,
  PRIMARY KEY (layer_id, feature_id)
);
CREATE TABLE scans (
  scan_id          text PRIMARY KEY,
  scan_key         text NOT NULL,
  before_uri       text NOT NULL,
  after_uri        text NOT NULL,
  before_sha256    text,
  after_sha256     text,
  before_date      date NOT NULL,
  after_date       date NOT NULL,
  detector         text NOT NULL,
  detector_version text NOT NULL,
  rules            jsonb NOT NULL,
  layers           jsonb NOT NULL,
  stats            jsonb,
  started_at       timestamptz NOT NULL,
  finished_at      timestamptz
);
CREATE INDEX scans_key ON scans (scan_key);
CREATE TABLE alerts (
  alert_id          text PRIMARY KEY,
  category          text NOT NULL,
  flags             jsonb NOT NULL,
  status            text NOT NULL DEFAULT 'new',
  confidence        text NOT NULL,
  score             double precision NOT NULL,
  area_ha           double precision NOT NULL,
  area_outside_ha   double precision,
  permit_id         text,
  county_code       text,
  county_name       text,
  change_kind       text NOT NULL,
  geometry          jsonb NOT NULL,
  centroid_lon double precision NOT NULL, centroid_lat double precision NOT NULL,
  min_lon double precision NOT NULL, min_lat double precision NOT NULL,
  max_lon double precision NOT NULL, max_lat double precision NOT NULL,
  first_seen        date NOT NULL,
  last_seen         date NOT NULL,
  observation_count integer NOT NULL DEFAULT 1,
  rule_trace        jsonb NOT NULL,
  summary           text NOT NULL,
  rules             jsonb NOT NULL,
  detector          text NOT NULL,
  detector_version  text NOT NULL,
  last_scan_id      text NOT NULL REFERENCES scans(scan_id),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alerts_bbox ON alerts (min_lon, max_lon, min_lat, max_lat);
CREATE INDEX alerts_status ON alerts (status, category);
CREATE TABLE observations (
  alert_id    text NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
  -- The later scene that saw the site: a re-run of the same pair is not a new observation.
  scene_key   text NOT NULL,
  scan_id     text NOT NULL REFERENCES scans(scan_id),
  observed_on date NOT NULL,
  area_ha     double precision NOT NULL,
  score       double precision NOT NULL,
  category    text NOT NULL,
  geometry    jsonb NOT NULL,
  PRIMARY KEY (alert_id, scene_key)
);
CREATE TABLE licensed_activity (
  scan_id     text NOT NULL REFERENCES scans(scan_id) ON DELETE CASCADE,
  site_key    text NOT NULL,
  permit_id   text NOT NULL,
  observed_on date NOT NULL,
  area_ha     double precision NOT NULL,
  score       double precision NOT NULL,
  geometry    jsonb NOT NULL,
  summary     text NOT NULL,
  PRIMARY KEY (scan_id, site_key)
);
CREATE TABLE audit_log (
  audit_id  bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  actor     text NOT NULL,
  action    text NOT NULL,
  alert_id  text,
  scan_id   text,
  details   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_alert ON audit_log (alert_id, at);
`,
  },
  {
    version: 2,
    name: 'server mode: scan state, windows, watched areas, scenes, workers',
    sql: `
ALTER TABLE scans ADD COLUMN status text NOT NULL DEFAULT 'done'
  CHECK (status IN ('queued','calibrating','detecting','finalizing','done','failed'));
ALTER TABLE scans ADD COLUMN error jsonb;
ALTER TABLE scans ADD COLUMN request jsonb;
ALTER TABLE scans ADD COLUMN plan jsonb;
ALTER TABLE scans ADD COLUMN windows_total integer NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN windows_done integer NOT NULL DEFAULT 0;
ALTER TABLE scans ADD COLUMN aoi_id bigint;
ALTER TABLE scans ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
-- The same scan enqueued twice while the first is still running: the database keeps one.
CREATE UNIQUE INDEX scans_one_active_per_key ON scans (scan_key) WHERE status IN ('queued','calibrating','detecting','finalizing');
CREATE INDEX scans_status ON scans (status, updated_at);
CREATE TABLE scan_windows (
  scan_id       text NOT NULL REFERENCES scans(scan_id) ON DELETE CASCADE,
  idx           integer NOT NULL,
  col integer NOT NULL, "row" integer NOT NULL, width integer NOT NULL, height integer NOT NULL,
  status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','done')),
  result        bytea,
  change_pixels integer,
  mask_counts   jsonb,
  seconds       double precision,
  worker        text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scan_id, idx)
);
CREATE INDEX scan_windows_pending ON scan_windows (scan_id) WHERE status = 'pending';
CREATE TABLE aois (
  aoi_id      bigserial PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  geometry    jsonb NOT NULL,
  cron        text NOT NULL,
  timezone    text NOT NULL,
  sources     jsonb NOT NULL,
  max_cloud   double precision NOT NULL,
  max_gap_days integer NOT NULL DEFAULT 400,
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  last_run_at timestamptz,
  last_run    jsonb
);
CREATE TABLE scenes (
  aoi_id      bigint NOT NULL REFERENCES aois(aoi_id) ON DELETE CASCADE,
  scene_key   text NOT NULL,
  uri         text NOT NULL,
  source      text NOT NULL,
  acquired_on date,
  cloud_cover double precision,
  footprint   jsonb,
  tile        text,
  status      text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok','rejected')),
  error       jsonb,
  discovered_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (aoi_id, scene_key)
);
-- A later scene is scanned once per area, detector version and rules version, whatever happens.
CREATE TABLE scene_scans (
  aoi_id           bigint NOT NULL REFERENCES aois(aoi_id) ON DELETE CASCADE,
  scene_key        text NOT NULL,
  detector         text NOT NULL,
  detector_version text NOT NULL,
  rules_version    text NOT NULL,
  before_key       text,
  scan_id          text,
  outcome          text NOT NULL,
  reason           text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (aoi_id, scene_key, detector, detector_version, rules_version)
);
CREATE TABLE workers (
  worker_id      text PRIMARY KEY,
  host           text NOT NULL,
  pid            integer NOT NULL,
  queues         jsonb NOT NULL,
  concurrency    integer NOT NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  heartbeat_at   timestamptz NOT NULL DEFAULT now(),
  last_canary_at timestamptz,
  jobs_done      integer NOT NULL DEFAULT 0,
  stopped_at     timestamptz
);
CREATE TABLE alert_chips (
  alert_id  text NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
  scan_id   text NOT NULL REFERENCES scans(scan_id) ON DELETE CASCADE,
  png       bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (alert_id, scan_id)
);
`,
  },
  {
    version: 3,
    name: 'triage: users, sessions, decisions, routing overrides, priority',
    sql: `
CREATE TABLE users (
  user_id       bigserial PRIMARY KEY,
  username      text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9._-]{1,64}$'),
  password_hash text NOT NULL,
  role          text NOT NULL CHECK (role IN ('analyst','supervisor','county','province','admin')),
  language      text NOT NULL DEFAULT 'zh-CN' CHECK (language IN ('zh-CN','en')),
  preferences   jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  disabled_at   timestamptz
);
-- What a user covers: division codes (a province code covers its cities and counties). County and
-- province users have exactly one; analysts and supervisors none (every alert) or their assignment.
CREATE TABLE user_jurisdictions (
  user_id bigint NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  code    text NOT NULL CHECK (code ~ '^[0-9]{6}$'),
  PRIMARY KEY (user_id, code)
);
-- Only the SHA-256 of the session token is stored: a leaked table does not log anyone in.
CREATE TABLE sessions (
  token_sha256 text PRIMARY KEY,
  user_id      bigint NOT NULL REFERENCES users(user_id) ON DELETE CASCADE,
  csrf_token   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
-- One row per decision; decision_id is the client's idempotency key. Undo is a decision of its own.
CREATE TABLE decisions (
  decision_id  uuid PRIMARY KEY,
  alert_id     text NOT NULL REFERENCES alerts(alert_id) ON DELETE CASCADE,
  user_id      bigint NOT NULL REFERENCES users(user_id),
  from_status  text NOT NULL,
  to_status    text NOT NULL,
  reason       text,
  note         text,
  undo_of      uuid REFERENCES decisions(decision_id),
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decisions_alert ON decisions (alert_id, at);
CREATE INDEX decisions_user ON decisions (user_id, at);
CREATE UNIQUE INDEX decisions_one_undo ON decisions (undo_of) WHERE undo_of IS NOT NULL;
-- Routing: a scan routes an alert to the county holding most of its area (county_code, rewritten by
-- later scans); a person may route it elsewhere (assigned_county_code, never touched by scans).
ALTER TABLE alerts ADD COLUMN assigned_county_code text;
ALTER TABLE alerts ADD COLUMN assigned_county_name text;
ALTER TABLE alerts ADD COLUMN assignee text;
ALTER TABLE alerts ADD COLUMN scope_code text GENERATED ALWAYS AS (COALESCE(assigned_county_code, county_code)) STORED;
-- Priority 0-1: category severity (DESIGN.md precedence), detector score, size (saturating at
-- 5 ha), and a repeat sighting. Stored so the queue sorts on an index.
ALTER TABLE alerts ADD COLUMN priority double precision GENERATED ALWAYS AS (
  0.45 * (CASE category WHEN 'protected_area' THEN 1.0 WHEN 'closed_site_reactivated' THEN 0.9
    WHEN 'expired_permit' THEN 0.8 WHEN 'exploration_only' THEN 0.7 WHEN 'out_of_bounds' THEN 0.6 ELSE 0.5 END)
  + 0.25 * LEAST(GREATEST(score, 0), 1)
  + 0.2 * LEAST(area_ha / 5.0, 1)
  + 0.1 * (CASE confidence WHEN 'confirmed' THEN 1 ELSE 0 END)) STORED;
CREATE INDEX alerts_queue ON alerts (status, priority DESC, area_ha DESC, alert_id);
CREATE INDEX alerts_priority ON alerts (priority DESC, area_ha DESC, alert_id);
CREATE INDEX alerts_scope ON alerts (scope_code text_pattern_ops, status, priority DESC);
CREATE INDEX alerts_last_seen ON alerts (last_seen DESC, area_ha DESC);
CREATE INDEX alerts_area ON alerts (area_ha DESC, alert_id);
CREATE INDEX alerts_score ON alerts (score DESC, area_ha DESC);
-- Search by the start of an alert or permit id (the queue's search box).
CREATE INDEX alerts_id_prefix ON alerts (alert_id text_pattern_ops);
CREATE INDEX alerts_permit_prefix ON alerts (upper(permit_id) text_pattern_ops)
`,
  },
  {
    version: 4,
    name: 'per-stage seconds of each server-mode window (read, mask, detect)',
    sql: `ALTER TABLE scan_windows ADD COLUMN stage_seconds jsonb;`,
  },
];

/** Applies every migration not yet applied, each in its own transaction. Returns the versions applied. */
export async function migrate(db: Database): Promise<number[]> {
  await ifNotExistsRacing(() => db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`));
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    const done = await db.query<{ version: number }>('SELECT version FROM schema_migrations WHERE version = $1', [migration.version]);
    if (done.rows.length > 0) continue;
    await db.transaction(async (tx) => {
      // Two processes migrating at once: the second blocks here, then finds the row and skips.
      await tx.query('LOCK TABLE schema_migrations IN EXCLUSIVE MODE');
      const again = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [migration.version]);
      if (again.rows.length > 0) return;
      for (const statement of migration.sql.split(/;\s*\n/).map((s) => s.trim()).filter(Boolean)) {
        await tx.query(statement);
      }
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
    });
    applied.push(migration.version);
  }
  return applied;
}
