using System.CommandLine;
using System.Globalization;
using CatsDogs.Cli.Options;
using CatsDogs.ML.Data;
using CatsDogs.ML.Export;

namespace CatsDogs.Cli.Commands;

/// <summary><c>catsdogs export</c>: the trained classifier as one self-contained ONNX model.</summary>
internal static class ExportCommand
{
    public static Command Create(Cli cli)
    {
        var outPath = new Option<string>("--out", "-o") { Description = "The ONNX file to write.", Required = true };
        var input = new Option<string>("--input")
        {
            Description = "The input contract: auto (default: the simplest that keeps the model's results), rgbS (photos already resized to S × S, uint8 RGB NHWC, e.g. rgb224) or photo (the decoded photo at its own size; the graph crops and resizes).",
            DefaultValueFactory = _ => "auto",
        };
        var withCam = new Option<bool>("--with-cam") { Description = "Also output 'cam' [N,C,C]: the combined class activation map on C x C cells over the whole image input (positive = dog; docs/export.md)." };
        var command = new Command("export", "Write the trained classifier as one ONNX model (for ONNX Runtime, ML.NET, a phone or a browser).");
        var model = new ModelOptions().AddTo(command, withCache: false);
        command.Add(outPath);
        command.Add(input);
        command.Add(withCam);
        cli.SetAction(command, (parse, _) =>
        {
            var modelPath = model.ModelPath(parse);
            var contract = parse.GetRequiredValue(input).Trim().ToLowerInvariant() switch
            {
                "auto" => (OnnxInputContract.Auto, (int?)null),
                "photo" => (OnnxInputContract.Photo, null),
                var text when text.StartsWith("rgb", StringComparison.Ordinal) && int.TryParse(text.AsSpan(3), NumberStyles.None, CultureInfo.InvariantCulture, out var size) => (OnnxInputContract.Resized, size),
                var text => throw new ArgumentException($"--input expects auto, photo or rgbS such as rgb224; got '{text}'."),
            };
            var file = OutputFile.Prepare(parse.GetRequiredValue(outPath), [modelPath]);
            using var classifier = model.Load(parse, cli);
            if (contract.Item2 is { } side && classifier.Backbones.Any(b => b.Preprocessing.Width != side))
            {
                throw new ArgumentException($"--input rgb{side}: the model's backbones take {string.Join(", ", classifier.Backbones.Select(b => $"{b.Name} {b.Preprocessing.Width} px").Distinct())}.");
            }

            var result = classifier.ExportOnnx(file, new OnnxExportOptions { Input = contract.Item1, WithCam = parse.GetValue(withCam) });
            cli.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"Wrote {result.Path} ({result.Bytes / 1048576.0:F1} MiB, ONNX opset {result.Opset}). {result.Contract} Outputs: dog_probability [N], label [N]{(parse.GetValue(withCam) ? ", cam [N,C,C]" : "")}."));
            return 0;
        });
        return command;
    }
}
