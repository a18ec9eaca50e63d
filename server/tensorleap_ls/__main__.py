from tensorleap_ls.cli import main

raise SystemExit(main())
