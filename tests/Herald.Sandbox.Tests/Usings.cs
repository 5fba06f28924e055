namespace Herald.Sandbox.Tests;
