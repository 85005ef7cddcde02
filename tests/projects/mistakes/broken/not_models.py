"""Settings, not models: naming one of them is a mistake."""

SQLALCHEMY_DATABASE_URI = "sqlite:///shop.sqlite"
config = {"SQLALCHEMY_DATABASE_URI": SQLALCHEMY_DATABASE_URI, "DEBUG": True}
