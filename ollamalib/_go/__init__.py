"""Go compatibility, in one place: what Ollama's Go code prints and parses, byte for byte.

``strconv`` (quoting, float formatting and parsing), ``fmt`` (Sprint/Sprintf and ``%v``), ``json``
(``json.Marshal``), ``duration`` (``time.Duration`` parsing, printing and its maximum) and ``values`` (the
Go types the template interpreter works with). Private: options, templates, the server and the CLI use it.
"""
