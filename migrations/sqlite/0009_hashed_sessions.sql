-- Sessions are now keyed by the SHA-256 of their id (the cookie's value), never the id
-- itself. Sessions stored the old way are ended: everyone signs in once more.
DELETE FROM sessions;
