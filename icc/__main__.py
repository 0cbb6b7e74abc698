from icc.cli import main

raise SystemExit(main())
