using CatsDogs.ML;
using CatsDogs.Web;

if (args.Contains("--help") || args.Contains("-h"))
{
    Console.Write(WebOptions.HelpText());
    return 0;
}

NativeHeap.Tune();
try
{
    var app = WebApp.Build(args);
    app.Run();
    return 0;
}
catch (Exception e) when (e is ArgumentException or CatsDogsException or IOException or UnauthorizedAccessException)
{
    // One line, without .NET's " (Parameter 'device')" suffix, which names a variable the user never saw.
    var message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
    Console.Error.WriteLine($"error: {message.ReplaceLineEndings(" ")}");
    return 1;
}

/// <summary>The entry point, visible to WebApplicationFactory in the tests.</summary>
public partial class Program;
