"""Speed machinery the methods dispatch to; the methods' modules stay readable without it."""
