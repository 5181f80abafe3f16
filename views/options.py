"""The ``[views.<table>]`` options of the declarative file, declared once as data.

Each option is documented here (the maintainer's guide, docs/declarative.md, lists
them all and a test keeps the two in step); :mod:`views.checks` validates them
against the reflected schema and :mod:`views.tuning` applies them to a screen.
"""
from __future__ import annotations

from backoffice.core.declarations import Option

__all__ = ["VIEW_PROBLEM_IDS", "ROLE_CHOICES", "COUNT_STRATEGIES", "VIEW_OPTIONS", "COLUMN_OPTIONS",
           "ACTION_OPTIONS", "ACTION_ROLES", "ACTION_REASONS"]

#: Values of create / edit / delete: the least role that may do it, or nobody.
ROLE_CHOICES = ("viewer", "operator", "admin", "nobody")

#: How a list screen counts its rows (implemented by the paging code; stored here).
COUNT_STRATEGIES = ("exact", "estimate", "capped", "none", "auto")

VIEW_OPTIONS = (
    Option("label", "str", "Menu and page title of the screen.", "the table name", 'label = "Movies"'),
    Option("category", "str", "Menu category the screen is filed under.", "Schema", 'category = "Catalog"'),
    Option("order", "int", "Position in the menu (lower first; ties by name).", 100, "order = 10"),
    Option("hidden", "bool", "No screen at all for this table.", False, "hidden = true"),
    Option("list", "str-list", "Columns of the list page, in order.", "every column",
           'list = ["title", "release_date", "tmdb_id"]'),
    Option("labels", "table", "Column headings: column -> label, used on every page.", "the column names",
           'labels = { tmdb_id = "TMDB", release_date = "Released" }'),
    Option("never_show", "str-list",
           "Columns never shown anywhere: list, details, forms, search, filters, sorting, export.", "[]",
           'never_show = ["internal_notes"]'),
    Option("search", "str-list", "Text columns the search box matches (case-insensitive, contains).", "[]",
           'search = ["title", "original_title", "imdb_id"]'),
    Option("fulltext", "str", "A tsvector column the search box searches with full text "
           "(column @@ websearch_to_tsquery(words); PostgreSQL). Replaces search on this screen.", None,
           'fulltext = "fulltext"'),
    Option("fulltext_config", "str", "Text search configuration the fulltext column was built with.",
           "the database's default_text_search_config", 'fulltext_config = "english"'),
    Option("filters", "str-list", "Columns offered as filters.",
           "every filterable column; on a large table the indexed ones",
           'filters = ["release_date", "original_language"]'),
    Option("sortable", "str-list", "Columns the list can be sorted by (header links).",
           "every sortable column; on a large table the indexed ones",
           'sortable = ["title", "release_date"]'),
    Option("sort", "str|str-list", "Default order: a column, '-column' for descending, or a list of them. "
           "The primary key is always appended so pages are stable.", "the primary key",
           'sort = "-updated_at"'),
    Option("page_size", "int", "Rows per page (1 to 1000).", 50, "page_size = 100"),
    Option("count", "str", "How the list counts its rows: " + " | ".join(COUNT_STRATEGIES) + ".", "auto",
           'count = "estimate"'),
    Option("read_only", "bool", "No create, edit or delete on this screen, whatever the roles say.", False,
           "read_only = true"),
    Option("create", "str", "Least role that may create rows: " + " | ".join(ROLE_CHOICES) + ".", "admin",
           'create = "operator"'),
    Option("edit", "str", "Least role that may edit rows: " + " | ".join(ROLE_CHOICES) + ".", "operator",
           'edit = "operator"'),
    Option("delete", "str", "Least role that may delete rows: " + " | ".join(ROLE_CHOICES) + ".", "admin",
           'delete = "nobody"'),
    Option("links", "table", "Columns rendered as links: column -> http(s) URL template; {column} "
           "placeholders take any column of the row, URL-escaped.", "{}",
           'links = { tmdb_id = "https://www.themoviedb.org/movie/{tmdb_id}" }'),
    Option("formatters", "table", "Value formatters: column -> name or { kind = name, args... } "
           "(date, datetime, money, number, percent, truncate, badge, yesno).", "{}",
           'formatters = { overview = { kind = "truncate", length = 80 }, status = "badge" }'),
    Option("export", "bool", "Whether the list offers CSV export.", True, "export = false"),
    Option("details", "str-list", "Columns of the details page, in order.", "every column",
           'details = ["title", "overview", "release_date"]'),
    Option("actions", "table", "Declared row actions: name -> { label, set, role, reason, confirm_over, "
           "confirm_text } (see ACTION_OPTIONS); each sets columns of the selected rows, audited.", "{}",
           'actions = { resync = { label = "Needs TMDB re-sync", set = { tmdb_synced_at = "null()" } } }'),
    Option("reason", "table", "Whether the operator must give a reason, per kind of write: create, edit, "
           "delete, bulk (declared actions), export -> \"required\" | \"optional\". [views.\"*\"] holds the "
           "console-wide default.", "optional everywhere",
           'reason = { delete = "required", export = "optional" }'),
    Option("confirm_delete", "str", "Deleting asks the operator to type the row's \"label\" or \"key\" "
           "(several rows: their number), on a confirmation page signed over the exact rows.", None,
           'confirm_delete = "label"'),
    Option("confirm_delete_seconds", "int", "How long a delete confirmation page stays valid (30 to 86400).",
           600, "confirm_delete_seconds = 300"),
)

#: Values of an action's role and reason.
ACTION_ROLES = ("viewer", "operator", "admin")
ACTION_REASONS = ("required", "optional", "none")

#: The keys of one ``[views.<table>.actions.<name>]`` entry.
ACTION_OPTIONS = (
    Option("label", "str", "Name of the action in the \"With selected\" menu and on its confirmation.",
           "the action name", 'label = "Mark for TMDB re-sync"'),
    Option("set", "table", "column -> new value: a literal, \"now()\", \"null()\", "
           "or { ask = \"prompt\" } (the operator types it, checked against the column's type).", None, 'set = { tmdb_synced_at = "null()" }'),
    Option("role", "str", "Least role that may run it: " + " | ".join(ACTION_ROLES) + ".", "operator",
           'role = "admin"'),
    Option("reason", "str", "Whether the operator gives a reason: " + " | ".join(ACTION_REASONS) + ".",
           "optional", 'reason = "required"'),
    Option("confirm_over", "int", "Above this many rows the operator types the row count to confirm.", 10,
           "confirm_over = 5"),
    Option("confirm_text", "str", "A word the operator must type to confirm (optional).", None,
           'confirm_text = "RESYNC"'),
    Option("approval", "str", "Two-person approval: the role that must approve the change before it is applied: "
           + " | ".join(ACTION_ROLES) + ". Default: the screen's approval for edit, if any.", None,
           'approval = "admin"'),
)

#: Options whose value names columns (str-list) or is keyed by column (table).
COLUMN_OPTIONS = ("list", "never_show", "search", "filters", "sortable", "details", "labels", "links", "formatters")

VIEW_PROBLEM_IDS = {
    "backoffice.E010": "a [views.<name>] entry names no reflected table or view",
    "backoffice.E011": "a column is listed twice in the same option",
    "backoffice.E012": "an option names a column the table does not have",
    "backoffice.E013": "a column in never_show is also used by another option",
    "backoffice.E014": "create / edit / delete names an unknown role",
    "backoffice.E015": "count names an unknown count strategy",
    "backoffice.E016": "page_size or order is out of range",
    "backoffice.E017": "label or category is empty",
    "backoffice.E018": "a value inside labels, links or formatters has the wrong type",
    "backoffice.E019": "sort is empty or malformed",
    "backoffice.E020": "a formatter names an unknown kind",
    "backoffice.E021": "a formatter has an unknown argument",
    "backoffice.E022": "a formatter argument has a bad value",
    "backoffice.E025": "a link template is not an absolute http(s) URL",
    "backoffice.E026": "a link template placeholder names no column",
    "backoffice.E027": "a link template is malformed (braces, positional or formatted fields)",
    "backoffice.E028": "a column has both a link and a formatter",
    "backoffice.E030": "a filter on a column type that cannot be filtered",
    "backoffice.E031": "search on a column that holds no text",
    "backoffice.E032": "sortable names a column whose type cannot be sorted",
    "backoffice.E033": "fulltext names a column that is missing or not a PostgreSQL tsvector, or a bad fulltext_config",
    "backoffice.E035": "a custom view class names no reflected table or view",
    "backoffice.E036": "two custom view classes claim the same table",
    "backoffice.E040": "an action entry is malformed: bad name, unknown key, wrong type or empty set",
    "backoffice.E041": "an action sets a column it cannot: part of the primary key, or on a read-only screen",
    "backoffice.E042": "an action's value does not fit its column (type, length, now() or null())",
    "backoffice.E043": "an action names an unknown role or reason kind",
    "backoffice.E044": "an action's confirm_over is out of range or confirm_text is empty",
    "backoffice.E045": "reason names an unknown kind of write or an unknown level",
    "backoffice.E046": "confirm_delete is neither \"label\" nor \"key\"",
    "backoffice.E047": "confirm_delete_seconds is out of range (30 to 86400)",
    "backoffice.W010": "create / edit / delete granted on a screen declared read_only",
    "backoffice.W011": "create / edit / delete granted on a relation the database makes read-only",
    "backoffice.W012": "never_show hides a required column: creating rows will fail",
    "backoffice.W013": "a formatter does not fit the column's type",
    "backoffice.W014": "options on a hidden screen have no effect",
    "backoffice.W015": "search on a numeric column matches its text form",
    "backoffice.W017": "both search and fulltext are declared: the search box uses fulltext only",
}
