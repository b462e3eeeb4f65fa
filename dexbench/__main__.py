from dexbench.cli import main

raise SystemExit(main())
