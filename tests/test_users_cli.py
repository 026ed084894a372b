"""Creating users from the command line."""

from __future__ import annotations

from flask.testing import FlaskCliRunner
from sqlalchemy import select

from patrolmap.auth.passwords import verify_password
from patrolmap.extensions import db
from patrolmap.models import User

from .conftest import DATA


def test_create_user_with_generated_password(runner: FlaskCliRunner) -> None:
    runner.invoke(args=["load-geodata", str(DATA / "minicampus")])
    result = runner.invoke(args=["create-user", "li.na", "--role", "traffic_staff", "--role", "viewer",
                                 "--name", "李娜", "--campus", "mini", "--generate-password"])
    assert result.exit_code == 0, result.output
    password = result.output.split("password (shown once): ")[1].strip()
    user = db.session.scalars(select(User).where(User.username == "li.na")).one()
    assert user.role_set == {"traffic_staff", "viewer"} and user.campuses == "mini"
    assert user.display_name == "李娜"
    assert verify_password(user.password_hash, password)
    assert password not in user.password_hash


def test_create_user_password_from_stdin(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["create-user", "admin", "--role", "admin", "--password-stdin"],
                           input="correct horse battery staple\n")
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(User).where(User.username == "admin")).one()
    assert verify_password(user.password_hash, "correct horse battery staple")
    assert "correct horse" not in result.output


def test_create_user_refusals_change_nothing(runner: FlaskCliRunner) -> None:
    runner.invoke(args=["create-user", "admin", "--role", "admin", "--generate-password"])
    cases = [
        (["create-user", "admin", "--role", "admin", "--generate-password"], "exists already"),
        (["create-user", "x", "--role", "admin", "--generate-password"], "3-64 letters"),
        (["create-user", "bob", "--role", "wizard", "--generate-password"], "wizard"),
        (["create-user", "bob", "--role", "viewer", "--campus", "nowhere", "--generate-password"], "unknown campus"),
        (["create-user", "bob", "--role", "viewer", "--password-stdin"], "most common"),
    ]
    for args, message in cases:
        result = runner.invoke(args=args, input="password123\n")
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    assert db.session.scalars(select(User.username)).all() == ["admin"]
