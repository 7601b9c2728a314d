"""The shared core every method stands on; nothing in it imports a lecture method or the UI."""
