namespace Herald.Channels.Tests;
