pytest_plugins = (
    "tests.support.pbx_fixture",
    "tests.support.databases",
    "tests.browser.fixtures",
)
