"""A project whose package is called "app", like most Flask tutorials' projects."""

from flask import Flask

from app.extensions import db


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///library.sqlite"
    db.init_app(app)
    return app
