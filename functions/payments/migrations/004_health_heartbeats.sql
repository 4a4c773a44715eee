-- /health proves the database takes writes by upserting this region's row.

CREATE TABLE health_heartbeats (
  region  text PRIMARY KEY,
  beat_at timestamptz NOT NULL
);
