"""Content-addressed objects and where they live: CIDs, UnixFS, blockstores, manifests and refs."""
