"""Status widgets: the seller's widget pages and the routes other sites embed."""
