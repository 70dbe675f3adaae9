"""The Flask extensions every page uses, made once and bound to the app in ``portal.web.init_app``."""
from flask_babel import Babel
from flask_compress import Compress
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
compress = Compress()
