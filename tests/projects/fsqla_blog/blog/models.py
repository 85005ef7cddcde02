"""Users, posts, tags (many-to-many) and comments; page views live in a second bind."""

from datetime import datetime

from sqlalchemy.orm import validates

from blog import db

post_tags = db.Table(
    "post_tags",
    db.Column("post_id", db.Integer, db.ForeignKey("post.id"), primary_key=True),
    db.Column("tag_id", db.Integer, db.ForeignKey("tag.id"), primary_key=True),
)


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    username = db.Column(db.String(80), unique=True, nullable=False)
    email = db.Column(db.String(120), unique=True, nullable=False)
    posts = db.relationship("Post", back_populates="author", lazy="dynamic")

    @validates("email")
    def validate_email(self, key, value):
        if "@" not in value:
            raise ValueError("an email address needs an @")
        return value.lower()

    def __repr__(self):
        return f"<User {self.username}>"


class Post(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    title = db.Column(db.String(200), nullable=False)
    body = db.Column(db.Text, nullable=False)
    published = db.Column(db.Boolean, nullable=False, default=False)
    created = db.Column(db.DateTime, nullable=False, default=datetime.utcnow)
    author_id = db.Column(db.Integer, db.ForeignKey("user.id"), nullable=False)
    author = db.relationship("User", back_populates="posts")
    tags = db.relationship("Tag", secondary=post_tags, backref=db.backref("posts", lazy=True))
    comments = db.relationship("Comment", backref="post", cascade="all, delete-orphan")

    def __str__(self):
        return self.title


class Tag(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(50), unique=True, nullable=False)


class Comment(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    post_id = db.Column(db.Integer, db.ForeignKey("post.id"), nullable=False)
    author_name = db.Column(db.String(80), nullable=False)
    text = db.Column(db.Text, nullable=False)


class PageView(db.Model):
    __bind_key__ = "analytics"
    id = db.Column(db.Integer, primary_key=True)
    path = db.Column(db.String(200), nullable=False)
    seen_at = db.Column(db.DateTime, nullable=False)
