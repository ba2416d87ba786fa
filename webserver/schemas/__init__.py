"""Request and response bodies, one module per feature; route modules share them from here, never from each other."""
