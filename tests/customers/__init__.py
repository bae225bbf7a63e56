"""Customers: purchases, ratings and the customer 360."""
