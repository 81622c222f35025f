"""Storage adapters for gamify, chosen by URL through :func:`gamify.open_store`."""
