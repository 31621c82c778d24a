"""`make demo`: pexlab end to end on a local Spark standalone cluster, non-interactively.

Runs in the demo kernel's venv (.cache/demo-venv: numpy, tabulate, humanize and the editable
`pexlab_demo` project).  It starts a master + 2 workers whose own Python is an EMPTY venv, builds
(or reuses) the PEX of this venv, runs a job whose UDFs import numpy, humanize and the editable
project on the executors, prints the result and the timings, and stops everything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    try:
        import pexlab_demo  # noqa: F401
        import tabulate  # noqa: F401
    except ImportError as exc:
        print(
            f"error: {exc}. Run this with the demo venv: `make demo` (or "
            "`make demo-venv && .cache/demo-venv/bin/python demo/run_demo.py`).",
            file=sys.stderr,
        )
        return 2
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType
    from tabulate import tabulate as table

    import pexlab
    from pexlab.local.standalone import LocalCluster

    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pexlab-demo-") as tmp:
        # The workers' own interpreter has nothing installed: whatever the UDFs import on the
        # executors can only come from what pexlab shipped.
        worker_venv = Path(tmp) / "worker-venv"
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(worker_venv)], check=True
        )

        t = time.monotonic()
        print("Starting a local Spark standalone cluster (master + 2 workers)...", flush=True)
        with LocalCluster(
            workers=2,
            worker_python=str(worker_venv / "bin" / "python3"),
            base_dir=Path(tmp) / "cluster",
        ) as cluster:
            timings["cluster start"] = time.monotonic() - t
            print(f"  master {cluster.master_url}, web UI {cluster.ui_url}", flush=True)

            t = time.monotonic()
            spark = pexlab.create_spark_session(
                master=cluster.master_url,
                app_name="pexlab-demo",
                # Artifacts go to a local folder here; on a real cluster: s3://..., hdfs://...
                storage=os.environ.get("PEXLAB_DEMO_STORAGE", str(Path(tmp) / "storage")),
                conf={
                    **cluster.driver_conf(),
                    # No pandas/pyarrow in the demo venv: plain (pickled) Python UDFs.
                    "spark.sql.execution.pythonUDF.arrow.enabled": "false",
                },
            )
            timings["session (package + ship + check)"] = time.monotonic() - t
            try:

                @F.udf(returnType=StringType())
                def describe(n):
                    import numpy as np
                    import pexlab_demo

                    return f"{pexlab_demo.describe(n)}; sqrt={np.sqrt(n):.3f}"

                @F.udf(returnType=StringType())
                def origin(_):
                    import humanize
                    import numpy
                    import pexlab_demo

                    return " | ".join(m.__file__ for m in (numpy, humanize, pexlab_demo))

                t = time.monotonic()
                rows = (
                    spark.range(1, 7, numPartitions=2)
                    .select("id", describe("id").alias("described"))
                    .collect()
                )
                timings["first job"] = time.monotonic() - t
                t = time.monotonic()
                total = (
                    spark.sparkContext.parallelize(range(10), 2)
                    .map(lambda x: __import__("pexlab_demo").square(x))
                    .sum()
                )
                timings["second job"] = time.monotonic() - t
                where = spark.range(1).select(origin("id")).collect()[0][0]
            finally:
                spark.stop()

    print()
    print(
        table([(r["id"], r["described"]) for r in rows], headers=["id", "described on an executor"])
    )
    print(f"\nsum of squares (pexlab_demo.square on executors): {total}")
    print("executors imported numpy | humanize | pexlab_demo from:")
    for part in where.split(" | "):
        print(f"  {part}")
    print()
    print(table([(k, f"{v:.1f} s") for k, v in timings.items()], headers=["step", "time"]))
    if total != sum(x * x for x in range(10)):
        print("error: wrong result", file=sys.stderr)
        return 1
    print("\nDemo OK: cluster stopped.")
    return 0


if __name__ == "__main__":
    # SIGTERM (e.g. `timeout`) unwinds like an error, so the cluster's `with` block stops the
    # Spark daemons instead of orphaning them.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(main())
