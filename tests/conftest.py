pytest_plugins = ("tests.support.pbx_fixture", "tests.browser.fixtures")
