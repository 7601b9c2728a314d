"""Speed machinery the methods dispatch to, and the class scores they differentiate (:mod:`.scores`);
the methods' modules stay readable without it."""
