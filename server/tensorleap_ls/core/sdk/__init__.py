"""What is known of code-loader: the bundled registrar table and the release installed for the project."""
