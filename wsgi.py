from backoffice import create_app
app = create_app()
