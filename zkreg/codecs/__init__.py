"""The wire codecs, each implemented once: unsigned varints, canonical DAG-CBOR."""
