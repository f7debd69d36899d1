"""web: the server-rendered status pages served by the API process."""
