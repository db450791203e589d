from r2rec_bench.cli import main

raise SystemExit(main())
