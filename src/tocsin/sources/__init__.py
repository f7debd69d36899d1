"""sources: pollers that turn fleets and endpoints into Observations."""
