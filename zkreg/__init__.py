"""zkreg: a reputation-incentivised registry for ML models and datasets.

Pipeline: files -> UnixFS blocks (CIDs as `ipfs add` computes them) -> signed DAG-CBOR manifest (the commitment)
-> refs (name@version). Pull re-hashes every block and checks the manifest's signature before a byte lands.
"""

__version__ = "0.1.0"
