"""One module per dashboard page, each run by ``st.navigation`` as a script."""
