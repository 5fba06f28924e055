namespace Herald.Storage.Tests;
