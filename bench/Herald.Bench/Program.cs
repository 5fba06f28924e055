Console.WriteLine("Herald bench");
