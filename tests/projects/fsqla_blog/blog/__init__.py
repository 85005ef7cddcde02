"""A Flask-SQLAlchemy blog, written the way the Flask tutorial and its readers write one."""

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

db = SQLAlchemy()


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///blog.sqlite"
    app.config["SQLALCHEMY_BINDS"] = {"analytics": "sqlite:///analytics.sqlite"}
    db.init_app(app)
    return app
