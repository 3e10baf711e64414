"""Export path -> catalog table name, and collisions between sources."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from sor_job.layout import MAX_TABLE_NAME
from sor_job.names import assign_table_names, base_table_name

ATHENA_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def test_folder_becomes_schema_and_table_in_lower_case():
    assert base_table_name("public.orders") == "public_orders"
    assert base_table_name("shop.Order_Items") == "shop_order_items"  # MySQL folder is <database>.<table>


def test_accents_are_stripped_and_other_characters_become_underscores():
    assert base_table_name("vendas.Clientes-ÇÃO") == "vendas_clientes_cao"
    assert base_table_name("public.Order_Items_") == "public_order_items_"  # a space arrives as _ already
    assert base_table_name("public.a$b") == "public_a_b"


def test_a_name_must_start_with_a_letter():
    assert base_table_name("2024.sales") == "t_2024_sales"
    assert base_table_name("_tmp.x") == "t__tmp_x"
    assert re.fullmatch(r"t_[0-9a-f]{8}", base_table_name("日本.表"))  # nothing readable left: a hash
    assert base_table_name("日本.表") != base_table_name("中文.表")


def test_long_names_are_cut_with_a_hash_of_the_full_path():
    long_a, long_b = "public." + "a" * 300, "public." + "a" * 299 + "b"
    assert len(base_table_name(long_a)) == MAX_TABLE_NAME
    assert base_table_name(long_a) != base_table_name(long_b)


@given(st.text(min_size=1, max_size=300))
def test_every_folder_name_gives_a_legal_athena_name(folder):
    name = base_table_name(folder)
    assert ATHENA_NAME.match(name), name
    assert len(name) <= MAX_TABLE_NAME
    assert base_table_name(folder) == name


def test_distinct_sources_never_share_a_name_and_the_first_keeps_the_plain_one():
    folders = {"app.public.Orders": "public.Orders", "app.public.orders": "public.orders"}
    result = assign_table_names(folders, existing={})
    assert result.names["app.public.Orders"] == "public_orders"  # "O" sorts before "o"
    assert re.fullmatch(r"public_orders_[0-9a-f]{8}", result.names["app.public.orders"])
    assert result.errors == {}
    assert any("share the name 'public_orders'" in w for w in result.warnings)


def test_the_source_that_owns_the_catalog_table_keeps_its_name():
    folders = {"app.public.Orders": "public.Orders", "app.public.orders": "public.orders"}
    result = assign_table_names(folders, existing={"public_orders": "app.public.orders"})
    assert result.names["app.public.orders"] == "public_orders"
    assert result.names["app.public.Orders"].startswith("public_orders_")


def test_two_databases_of_one_cluster_with_the_same_schema_and_table():
    folders = {"app.public.users": "public.users", "crm.public.users": "public.users"}
    result = assign_table_names(folders, existing={})
    assert result.names["app.public.users"] == "public_users"
    assert result.names["crm.public.users"] != "public_users"


def test_a_table_aurora_sor_does_not_manage_is_never_taken_over():
    result = assign_table_names({"app.public.orders": "public.orders"}, existing={"public_orders": None})
    assert result.names["app.public.orders"].startswith("public_orders_")
    assert any("belongs to None" in w for w in result.warnings)


def test_a_table_owned_by_another_source_is_never_taken_over():
    result = assign_table_names({"app.sales.orders": "sales.orders"}, existing={"sales_orders": "old.sales.orders"})
    assert result.names["app.sales.orders"] != "sales_orders"


def test_when_even_the_fallback_name_is_taken_the_table_fails_clearly():
    folders = {"app.public.orders": "public.orders"}
    first = assign_table_names(folders, existing={"public_orders": None})
    fallback = first.names["app.public.orders"]
    result = assign_table_names(folders, existing={"public_orders": None, fallback: "someone.else.t"})
    assert "app.public.orders" not in result.names
    assert "belongs to 'someone.else.t'" in result.errors["app.public.orders"]


@given(st.lists(st.sampled_from(["public.A", "public.a", "public.a_", "public.Á", "x.y", "x.Y"]), unique=True))
def test_assignment_is_unique_and_does_not_depend_on_input_order(folders):
    mapping = {f"db.{f}": f for f in folders}
    forward = assign_table_names(mapping, existing={})
    backward = assign_table_names(dict(reversed(list(mapping.items()))), existing={})
    assert forward.names == backward.names
    assert len(set(forward.names.values())) == len(forward.names) == len(mapping)
