"""ombud: a customer service desk that reads between the lines and advocates for the customer."""

__version__ = "0.1.0"
