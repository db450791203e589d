"""DuckDB as a yardstick for the protocol (r2rec_bench.protocol.run_protocol), same steps.

Run from a checkout, with DuckDB installed beside r2rec-bench (never a dependency of it):

    .venv/bin/pip install duckdb
    .venv/bin/python scripts/protocol_yardstick.py 10 32

Each argument is a size in millions of interactions: a seeded synthetic power-law log of that
size (tests/benchmarks/synthetic.py, the logs of BENCHMARKS.md §2) goes through both, each in
a fresh process, and the script prints a JSON line per (size, engine) with wall and CPU
seconds and the peak memory the step added (the process's peak resident size minus its size
once the log was in memory), in bytes per interaction.

The SQL does what the protocol does, step for step: duplicate (user, item) pairs keep the
earliest (lowest rating on equal times); the iterative 5/5-core until nothing changes; users
with at least 3 interactions; each user's order by time, same-second ties by a seeded hash of
(user, item); the last interaction is the test target, the one before the validation target;
the 10 items before each target are its history; 19 uniform negatives per target among the
items the user never touched. It is a yardstick for time and memory, not a second
implementation: DuckDB's ``hash`` is not the protocol's tie key, and its negatives are drawn
by oversampling and rejection (60 draws per target), so the two outputs have the same shape
and sizes, not the same rows. The synthetic catalog has no titles to clean or merge, so
that step of the protocol costs next to nothing here.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NEGATIVES, DRAWS, HISTORY, CORE = 19, 60, 10, 5

SQL = """
CREATE TEMP TABLE pairs AS
SELECT user_id, item_id, timestamp, rating FROM log
QUALIFY row_number() OVER (PARTITION BY user_id, item_id ORDER BY timestamp, rating) = 1;

CREATE TEMP TABLE core AS SELECT * FROM pairs;
"""

CORE_ROUND = f"""
CREATE OR REPLACE TEMP TABLE core AS
SELECT * FROM core
WHERE user_id IN (SELECT user_id FROM core GROUP BY user_id HAVING count(*) >= {CORE})
  AND item_id IN (SELECT item_id FROM core GROUP BY item_id HAVING count(*) >= {CORE});
"""

SPLIT = f"""
CREATE TEMP TABLE ordered AS
SELECT user_id, item_id, timestamp, rating,
       row_number() OVER (PARTITION BY user_id
                          ORDER BY timestamp DESC, hash(user_id, item_id, 0) DESC) AS from_end,
       list(item_id) OVER (PARTITION BY user_id
                           ORDER BY timestamp, hash(user_id, item_id, 0)
                           ROWS BETWEEN {HISTORY} PRECEDING AND 1 PRECEDING) AS history
FROM core
WHERE user_id IN (SELECT user_id FROM core GROUP BY user_id HAVING count(*) >= 3);

CREATE TEMP TABLE train AS SELECT user_id, item_id, timestamp, rating
FROM ordered WHERE from_end > 2;
CREATE TEMP TABLE targets AS SELECT user_id, item_id AS target, from_end, history
FROM ordered WHERE from_end <= 2;

CREATE TEMP TABLE items AS
SELECT item_id, row_number() OVER (ORDER BY item_id) - 1 AS code FROM (SELECT DISTINCT item_id
FROM core);

CREATE TEMP TABLE negatives AS
WITH draws AS (
  SELECT t.user_id, t.from_end, floor(random() * (SELECT count(*) FROM items))::BIGINT AS code
  FROM targets t, range({DRAWS})
), named AS (
  SELECT DISTINCT d.user_id, d.from_end, i.item_id FROM draws d JOIN items i USING (code)
  WHERE NOT EXISTS (SELECT 1 FROM log s WHERE s.user_id = d.user_id AND s.item_id = i.item_id)
)
SELECT user_id, from_end, list(item_id) AS negatives FROM (
  SELECT *, row_number() OVER (PARTITION BY user_id, from_end ORDER BY item_id) AS k FROM named
) WHERE k <= {NEGATIVES} GROUP BY user_id, from_end;
"""


def duckdb_input(log):
    """The log as an Arrow table, DuckDB's own input; converting it is not timed, as reading
    the raw files is not timed for the protocol."""
    import pyarrow as pa

    return pa.table(
        {
            "user_id": pa.array(log.interactions.user_id.tolist(), pa.string()),
            "item_id": pa.array(log.interactions.item_id.tolist(), pa.string()),
            "timestamp": log.interactions.timestamp,
            "rating": log.interactions.rating,
        }
    )


def run_duckdb(table) -> dict:
    import duckdb

    connection = duckdb.connect()
    connection.register("log", table)
    connection.execute(SQL)
    rows = connection.execute("SELECT count(*) FROM core").fetchone()[0]
    while True:
        connection.execute(CORE_ROUND)
        kept = connection.execute("SELECT count(*) FROM core").fetchone()[0]
        if kept == rows:
            break
        rows = kept
    connection.execute(SPLIT)
    return {
        "train": connection.execute("SELECT count(*) FROM train").fetchone()[0],
        "targets": connection.execute("SELECT count(*) FROM targets").fetchone()[0],
        "short_of_negatives": connection.execute(
            f"SELECT count(*) FROM negatives WHERE len(negatives) < {NEGATIVES}"
        ).fetchone()[0],
    }


def run_ours(log) -> dict:
    from r2rec_bench.protocol import ProtocolParams, run_protocol

    output = run_protocol(log, ProtocolParams())
    return {"train": len(output.train), "targets": 2 * len(output.user_id)}


def measure(engine: str, millions: int) -> dict:
    """One engine on one size, in this process (called in a child by main)."""
    from tests.benchmarks.synthetic import LARGE, Shape, synthetic_log

    scale = millions * 1_000_000 / LARGE.interactions
    shape = Shape(millions * 1_000_000, int(LARGE.users * scale), int(LARGE.items * scale))
    log = synthetic_log(shape)
    if engine == "duckdb":
        log, run = duckdb_input(log), run_duckdb
    else:
        run = run_ours
    before = _resident_bytes()
    wall, cpu = time.perf_counter(), time.process_time()
    sizes = run(log)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    added = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    return {
        "engine": engine,
        "interactions": shape.interactions,
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "added_peak_bytes_per_interaction": round(added / shape.interactions, 1),
        **sizes,
    }


def _resident_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def main(argv: list[str]) -> None:
    if argv[:1] == ["--child"]:
        print(json.dumps(measure(argv[1], int(argv[2]))))
        return
    for millions in argv or ["10"]:
        for engine in ("r2rec-bench", "duckdb"):
            child = [sys.executable, __file__, "--child", engine, millions]
            print(subprocess.run(child, check=True, capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main(sys.argv[1:])
