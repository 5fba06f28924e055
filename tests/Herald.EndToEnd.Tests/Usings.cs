namespace Herald.EndToEnd.Tests;
