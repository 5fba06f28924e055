namespace Herald.Testing;
