"""The shapes of path parameters, shared by the API routes and the pages."""

DID_PATTERN = "^did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}$"
CID_PATTERN = "^b[a-z2-7]{58}$"
REF_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._+@-]{0,200}$"
