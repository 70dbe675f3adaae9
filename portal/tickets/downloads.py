"""Evidence files as downloads: never rendered or sniffed by a browser."""
from flask import abort, current_app, send_file

from portal.tickets import evidence


def send_attachment(attachment):
    """An evidence file as a download that no browser will render or sniff."""
    try:
        path = evidence.path_for(current_app.config["UPLOAD_DIR"], attachment.stored_name)
    except ValueError:
        abort(404)
    response = send_file(path, mimetype=attachment.content_type, as_attachment=True,
                         download_name=attachment.original_name, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
