namespace Herald.Core.Tests;
