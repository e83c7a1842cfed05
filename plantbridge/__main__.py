from plantbridge.cli import main

raise SystemExit(main())
