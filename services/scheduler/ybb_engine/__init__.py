"""YBB export engine: templates, transforms and writers that run on Dask workers and in tests."""
