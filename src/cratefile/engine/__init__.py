"""The doit side of cratefile: dependency DB, file checker, task creators, workspace lock."""
